package rofile

import (
	"os"
	"sort"
)

func sortEntries(ents []os.DirEntry) {
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
}
