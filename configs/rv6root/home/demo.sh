# A small Rv6 shell script: run it with `sh /home/demo.sh`.
echo hello from demo.sh
echo this script lives in the rv6 file system
echo done
