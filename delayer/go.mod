module gomelctl/delayer

go 1.19
