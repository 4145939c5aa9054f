package shell

import "unicode"

// MaxHistory is how many lines a History keeps.
const MaxHistory = 500

// History is the lines an interactive shell has read, oldest first.
type History struct {
	Lines []string
}

// Add records line, unless it is blank or repeats the last one.
func (h *History) Add(line string) {
	if isBlankLine(line) || (len(h.Lines) > 0 && h.Lines[len(h.Lines)-1] == line) {
		return
	}
	if len(h.Lines) == MaxHistory {
		h.Lines = append(h.Lines[:0], h.Lines[1:]...)
	}
	h.Lines = append(h.Lines, line)
}

func isBlankLine(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}
