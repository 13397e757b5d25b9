#!/bin/bash
#MSUB -N logs/1
#MSUB -e /abs/path/logs/1/log.stderr
#MSUB -o /abs/path/logs/1/log.stdout
#MSUB -V
#MSUB -m n
#PBS -W group_list=ml
#MSUB -q gpu
#MSUB -l nodes=1:ppn=4,walltime=06:00:00,mem=8gb
#MSUB -t [1-4]%2

module load python/3.11
source /abs/path/venv/bin/activate
export MLXP_NOTE='it'"'"'s $HOME'
trap : TERM USR2
cd /abs/path/workdir
python main.py optimizer.lr=10. 'msg='"'"'a b $HOME `x` ; *'"'"'' 'quote="double" \back' 'text=line1
line2' 'glob=*.py' empty= '' 'semi=a;b&&c|d>e<f' 'unicode=été'
