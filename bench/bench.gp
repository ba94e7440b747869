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
"e1000 → e1000, 60 B" 100213 181987 24255 26823
"e1000 → e1000, 1514 B" 84970 118768 30129 37880
"e1000 → ne2k, 60 B" 121148 115942 17924 0
"e1000 → ne2k, 1514 B" 26321 28047 13118 0
"ne2k → e1000, 60 B" 77221 117367 35580 0
"ne2k → e1000, 1514 B" 21276 26911 11087 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
