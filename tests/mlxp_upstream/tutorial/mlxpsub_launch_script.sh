#!/bin/bash

chmod u+x launch_script.sh
mlxpsub launch_script.sh

