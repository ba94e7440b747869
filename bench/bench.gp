set terminal pngcairo size 1100,500
set output "bench/bench.png"
set style data histograms
set style histogram clustered gap 1
set style fill solid border -1
set ylabel "frames/s received (median)"
set xtics rotate by -20
set key top right
set grid ytics
$data << EOD
"e1000 → e1000, 60 B" 107651 177613 32641 50049
"e1000 → e1000, 1514 B" 76858 119582 30426 56832
"e1000 → ne2k, 60 B" 116075 115984 22951 0
"e1000 → ne2k, 1514 B" 25605 28095 10963 0
"ne2k → e1000, 60 B" 80562 111917 35950 0
"ne2k → e1000, 1514 B" 22373 27700 10685 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
