set terminal svg size 900,450 dynamic noenhanced font 'sans,11'
set output 'report-tuned-all/figures/fig5-ml-100k-bpr.svg'
set title 'NDCG@10 per online batch: ml-100k, bpr'
set xlabel 'online batch'
set ylabel 'NDCG@10'
set key outside right
set grid
set datafile missing 'NaN'
colors = '#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #000000 #aec7e8'
plot for [i=2:8] 'report-tuned-all/figures/fig5-ml-100k-bpr.dat' using 1:i with lines lw 1.5 lc rgb word(colors, (i - 2) % 12 + 1) title columnheader(i)
set terminal pngcairo size 900,450 noenhanced font 'sans,10'
set output 'report-tuned-all/figures/fig5-ml-100k-bpr.png'
set title 'NDCG@10 per online batch: ml-100k, bpr'
set xlabel 'online batch'
set ylabel 'NDCG@10'
set key outside right
set grid
set datafile missing 'NaN'
colors = '#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #000000 #aec7e8'
plot for [i=2:8] 'report-tuned-all/figures/fig5-ml-100k-bpr.dat' using 1:i with lines lw 1.5 lc rgb word(colors, (i - 2) % 12 + 1) title columnheader(i)
unset output
