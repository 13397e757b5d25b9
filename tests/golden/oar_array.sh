#!/bin/bash
#OAR -n logs/1
#OAR -E /abs/path/logs/1/log.stderr
#OAR -O /abs/path/logs/1/log.stdout
#OAR -t besteffort
#OAR -t idempotent
#OAR -q gpu
#OAR -l /nodes=1/core=4,walltime=06:00:00
#OAR --array 4

module load python/3.11
source /abs/path/venv/bin/activate
export MLXP_NOTE='it'"'"'s $HOME'
trap : TERM USR2
cd /abs/path/workdir
python main.py optimizer.lr=10. 'msg='"'"'a b $HOME `x` ; *'"'"'' 'quote="double" \back' 'text=line1
line2' 'glob=*.py' empty= '' 'semi=a;b&&c|d>e<f' 'unicode=été'
