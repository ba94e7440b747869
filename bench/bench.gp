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
"e1000 → e1000, 60 B" 111412 178395 37671 73035
"e1000 → e1000, 1514 B" 81812 120805 31049 84667
"e1000 → ne2k, 60 B" 120608 118196 29393 0
"e1000 → ne2k, 1514 B" 29114 27953 13242 0
"ne2k → e1000, 60 B" 85627 118913 36726 0
"ne2k → e1000, 1514 B" 22960 27062 11294 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
