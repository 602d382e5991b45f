//go:build !linux

package supervisor

import "errors"

// renameNoReplaceWorks: no folder is made ahead here (see
// PreparedFolders), since no rename refuses to replace.
const renameNoReplaceWorks = false

func renameNoReplace(from, to string) error {
	return errors.New("no rename that refuses to replace on this platform")
}
