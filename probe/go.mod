module gomelctl/probe

go 1.19
