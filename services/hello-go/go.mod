module gantry.dev/services/hello-go

go 1.24
