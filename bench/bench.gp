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
"e1000 → e1000, 60 B" 103804 152645 27557 30843
"e1000 → e1000, 1514 B" 73003 118386 22655 31561
"e1000 → ne2k, 60 B" 113447 109780 31790 0
"e1000 → ne2k, 1514 B" 26787 27635 11736 0
"ne2k → e1000, 60 B" 83700 109610 37201 0
"ne2k → e1000, 1514 B" 18080 25125 11723 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
