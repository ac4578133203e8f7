module goelfprog

go 1.19
