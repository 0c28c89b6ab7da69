package agt

func compileYAML(_ string, path string) (*PolicySet, error) {
	return nil, &PolicyError{
		Message: "YAML policies are not supported by this build: the engine's YAML loader has not landed in libagt yet",
		File:    path,
		Help:    "write the policy as JSON (policy.json: the same document) and load that",
	}
}
