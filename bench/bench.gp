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
"e1000 → e1000, 60 B" 102134 180570 26098 33860
"e1000 → e1000, 1514 B" 75618 113640 25344 28220
"e1000 → ne2k, 60 B" 87627 87635 25936 0
"e1000 → ne2k, 1514 B" 25514 27221 16165 0
"ne2k → e1000, 60 B" 49143 59010 29570 0
"ne2k → e1000, 1514 B" 17733 21586 10600 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
