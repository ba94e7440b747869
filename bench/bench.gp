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
"e1000 → e1000, 60 B" 109672 180160 30359 23017
"e1000 → e1000, 1514 B" 66951 120038 19549 34836
"e1000 → ne2k, 60 B" 121327 118326 30842 0
"e1000 → ne2k, 1514 B" 28964 28015 13442 0
"ne2k → e1000, 60 B" 74602 111694 37380 0
"ne2k → e1000, 1514 B" 21857 25965 12780 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
