module inlineprog

go 1.19
