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
"e1000 → e1000, 60 B" 109321 181464 26579 47019
"e1000 → e1000, 1514 B" 74263 113869 32325 47523
"e1000 → ne2k, 60 B" 114032 115211 26605 0
"e1000 → ne2k, 1514 B" 27167 27925 10116 0
"ne2k → e1000, 60 B" 66466 110995 38651 0
"ne2k → e1000, 1514 B" 21363 24571 12379 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
