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
"e1000 → e1000, 60 B" 100382 177040 26438 39030
"e1000 → e1000, 1514 B" 68486 93283 27088 31306
"e1000 → ne2k, 60 B" 111768 105094 26004 0
"e1000 → ne2k, 1514 B" 27234 24910 11630 0
"ne2k → e1000, 60 B" 74130 101896 29612 0
"ne2k → e1000, 1514 B" 20800 24817 8507 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
