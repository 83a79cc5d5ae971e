mkdir t
echo fut > t/year-2300
echo old > t/year-1600
echo edge > t/year-2262
echo ok > t/year-2100
find . -exec touch -h -d @1500000000 {} +
touch -d @10413792000 t/year-2300
touch -d @-11676096000 t/year-1600
touch -d @9223372037 t/year-2262
touch -d @4102444800 t/year-2100
