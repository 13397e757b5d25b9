#!/bin/bash
#PBS -N logs/1
#PBS -e /abs/path/logs/1/log.stderr
#PBS -o /abs/path/logs/1/log.stdout
#PBS -V
#PBS -m n
#PBS -W group_list=ml
#PBS -q gpu
#PBS -l nodes=1:ppn=4
#PBS -l mem=8gb
#PBS -l walltime=06:00:00
#PBS -t 0-3%2

module load python/3.11
source /abs/path/venv/bin/activate
export MLXP_NOTE='it'"'"'s $HOME'
trap : TERM USR2
cd /abs/path/workdir
python main.py optimizer.lr=10. 'msg='"'"'a b $HOME `x` ; *'"'"'' 'quote="double" \back' 'text=line1
line2' 'glob=*.py' empty= '' 'semi=a;b&&c|d>e<f' 'unicode=été'
