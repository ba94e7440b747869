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
"e1000 → e1000, 60 B" 27206 56501 23762 25359
"e1000 → e1000, 1514 B" 22983 37214 19846 21362
"e1000 → ne2k, 60 B" 4742 0 18619 0
"e1000 → ne2k, 1514 B" 791 0 6891 0
"ne2k → e1000, 60 B" 11276 0 22886 0
"ne2k → e1000, 1514 B" 7434 0 11039 0
EOD
plot $data using 2:xtic(1) title "ringo irq", '' using 3 title "ringo poll", '' using 4 title "Linux", '' using 5 title "Linux iommu=pt"
