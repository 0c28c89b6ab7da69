module github.com/agt-toolkit/agent-governance-toolkit/sdks/go

go 1.19

require golang.org/x/text v0.21.0
