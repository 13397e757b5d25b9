#!/bin/bash
#BSUB -J logs/1
#BSUB -e /abs/path/logs/1/log.stderr
#BSUB -o /abs/path/logs/1/log.stdout
#BSUB -G mlgroup
#BSUB -r
#BSUB -q gpu
#BSUB -n 4
#BSUB -R "span[hosts=1]"
#BSUB -M 8GB
#BSUB -W 6:00

module load python/3.11
source /abs/path/venv/bin/activate
export MLXP_NOTE='it'"'"'s $HOME'
trap : TERM USR2
cd /abs/path/workdir
python main.py optimizer.lr=10. 'msg='"'"'a b $HOME `x` ; *'"'"'' 'quote="double" \back' 'text=line1
line2' 'glob=*.py' empty= '' 'semi=a;b&&c|d>e<f' 'unicode=été'
