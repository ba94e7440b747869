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
"e1000 → e1000, 60 B" 96917 152796 21633 50961
"e1000 → e1000, 1514 B" 89639 102589 14523 40019
"e1000 → ne2k, 60 B" 79534 97683 24846 0
"e1000 → ne2k, 1514 B" 21541 30554 17567 0
"ne2k → e1000, 60 B" 46186 53307 34525 0
"ne2k → e1000, 1514 B" 15150 22049 12169 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
