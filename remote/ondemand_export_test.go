package remote

// SameRevision is sameRevision, for the external tests.
var SameRevision = sameRevision

// RevisionInVersionM is revisionInVersionM, for the external tests.
var RevisionInVersionM = revisionInVersionM

// VersionCore is versionCore, for the external tests.
var VersionCore = versionCore
