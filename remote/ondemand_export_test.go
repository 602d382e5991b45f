package remote

// SameRevision is sameRevision, for the external tests.
var SameRevision = sameRevision
