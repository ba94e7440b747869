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
"e1000 → e1000, 60 B" 63783 93128 28426 23761
"e1000 → e1000, 1514 B" 25463 93270 16930 57871
"e1000 → ne2k, 60 B" 67366 90387 25928 0
"e1000 → ne2k, 1514 B" 23002 14010 16777 0
"ne2k → e1000, 60 B" 24418 50003 30346 0
"ne2k → e1000, 1514 B" 12312 19381 13582 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
