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
"e1000 → e1000, 60 B" 78292 156991 31783 26511
"e1000 → e1000, 1514 B" 60952 96078 15696 37894
"e1000 → ne2k, 60 B" 15415 40543 8750 0
"e1000 → ne2k, 1514 B" 3982 10080 7337 0
"ne2k → e1000, 60 B" 12521 16358 36058 0
"ne2k → e1000, 1514 B" 11634 12283 9140 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
