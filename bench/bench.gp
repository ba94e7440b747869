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
"e1000 → e1000, 60 B" 97614 152479 25916 36771
"e1000 → e1000, 1514 B" 73265 112357 30520 38132
"e1000 → ne2k, 60 B" 92378 97867 32567 0
"e1000 → ne2k, 1514 B" 26178 27611 16152 0
"ne2k → e1000, 60 B" 47816 67576 36241 0
"ne2k → e1000, 1514 B" 16806 21586 11051 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
