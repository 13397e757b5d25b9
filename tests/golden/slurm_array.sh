#!/bin/bash
#SBATCH --job-name=logs/1
#SBATCH --error=/abs/path/logs/1/log.stderr
#SBATCH --output=/abs/path/logs/1/log.stdout
#SBATCH --signal=USR2@120
#SBATCH --qos=normal
#SBATCH --partition=gpu
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=06:00:00
#SBATCH --array=0-3%2

module load python/3.11
source /abs/path/venv/bin/activate
export MLXP_NOTE='it'"'"'s $HOME'
trap : TERM USR2
cd /abs/path/workdir
python main.py optimizer.lr=10. 'msg='"'"'a b $HOME `x` ; *'"'"'' 'quote="double" \back' 'text=line1
line2' 'glob=*.py' empty= '' 'semi=a;b&&c|d>e<f' 'unicode=été'
