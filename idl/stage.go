package idl

// Stage is one link of a chain of domains (A calls B calls C): it handles a
// request, usually by passing it on to the next stage. The fault-injection
// tests of kernel/domain and kernel/shadow drive chains of stages.
type Stage interface {
	// Configure sets the stage's tag, which it stamps on every reply.
	//
	//idl:init
	Configure(cfg StageConfig) error
	// Handle handles req and returns the reply of the chain from here on.
	Handle(req Request) (Reply, error)
	// Link makes next the stage that Handle passes requests on to,
	// instead of the one the stage was granted.
	Link(next Stage) error
}

// StageConfig is a Stage's configuration.
type StageConfig struct {
	Tag uint64
}

// A Request travels down a chain of stages.
type Request struct {
	Seq    uint64
	Ticket uint64 // a fault-injection ticket, 0 for none
}

// A Reply travels back up.
type Reply struct {
	Seq  uint64
	Hops uint32 // stages that handled the request
	Tags uint64 // sum of the stages' tags
}
