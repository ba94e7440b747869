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
"e1000 → e1000, 60 B" 102627 182454 27460 27732
"e1000 → e1000, 1514 B" 73109 123982 18769 60483
"e1000 → ne2k, 60 B" 90829 85524 19103 0
"e1000 → ne2k, 1514 B" 25388 24465 15057 0
"ne2k → e1000, 60 B" 46716 63081 35935 0
"ne2k → e1000, 1514 B" 18357 21626 11161 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
