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
"e1000 → e1000, 60 B" 111351 171791 20032 50657
"e1000 → e1000, 1514 B" 79346 116254 21452 33322
"e1000 → ne2k, 60 B" 78881 92640 25277 0
"e1000 → ne2k, 1514 B" 25279 25107 17464 0
"ne2k → e1000, 60 B" 46715 63356 25749 0
"ne2k → e1000, 1514 B" 17647 20817 10616 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
