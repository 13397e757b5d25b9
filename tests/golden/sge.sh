#!/bin/bash
#$ -N logs_1
#$ -e /abs/path/logs/1/log.stderr
#$ -o /abs/path/logs/1/log.stdout
#$ -S /bin/bash
#$ -V
#$ -notify
#$ -j n
#$ -P myproject
#$ -q gpu
#$ -pe smp 4
#$ -l h_vmem=2G
#$ -l h_rt=06:00:00

module load python/3.11
source /abs/path/venv/bin/activate
export MLXP_NOTE='it'"'"'s $HOME'
trap : TERM USR2
cd /abs/path/workdir
python main.py optimizer.lr=10. 'msg='"'"'a b $HOME `x` ; *'"'"'' 'quote="double" \back' 'text=line1
line2' 'glob=*.py' empty= '' 'semi=a;b&&c|d>e<f' 'unicode=été'
