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
"e1000 → e1000, 60 B" 111786 177476 34876 34858
"e1000 → e1000, 1514 B" 85768 117727 28827 35411
"e1000 → ne2k, 60 B" 112572 116781 26013 0
"e1000 → ne2k, 1514 B" 27736 27012 14000 0
"ne2k → e1000, 60 B" 69247 116018 33815 0
"ne2k → e1000, 1514 B" 21531 26895 13299 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
