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
"e1000 → e1000, 60 B" 65872 78481 20261 36696
"e1000 → e1000, 1514 B" 50427 89464 13636 33852
"e1000 → ne2k, 60 B" 19129 79478 20394 0
"e1000 → ne2k, 1514 B" 2305 27834 12329 0
"ne2k → e1000, 60 B" 18595 53816 27531 0
"ne2k → e1000, 1514 B" 7626 20303 13210 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
