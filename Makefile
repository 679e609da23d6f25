# Developer shortcuts; CI runs .ci/run.
.PHONY: run test race lint bench build

run:
	go run ./cmd/zhiliao serve --demo

test:
	go test ./...

race:
	go test -race -count=1 ./...

lint:
	gofmt -l . && go vet ./...

bench:
	go test ./store -run '^$$' -bench Transitions -benchtime 20000x -count 5

build:
	go build -o zhiliao ./cmd/zhiliao
