package multus

// scan.go is the fast path of parseJSON. encoding/json reads a value with
// reflection, scans it once to validate and again to decode, and allocates
// for every token; the controller reads the annotation of every Pod on every
// event, so that cost counts. Annotations are nearly always plain: a list of
// objects whose keys and strings are printable ASCII without escapes. The
// scanner below reads exactly that subset of JSON and declines everything
// else, which parseJSON then reads with encoding/json as before. It never
// rejects anything itself, so every error message stays that of the general
// path; FuzzScanMatchesDecoder checks that both paths agree.

// maxScanDepth bounds the nesting the scanner reads; deeper values go to
// encoding/json, which has its own bound.
const maxScanDepth = 32

// scanner walks a JSON text; pos is the index of the next unread byte.
type scanner struct {
	text []byte
	pos  int
}

// scanJSON splits a list of element objects, or a single element object,
// into the members of each element, keys and values as parseMembers makes
// them. ok is false when the text is not in the subset the scanner reads,
// or is not valid JSON, or has more than MaxElements elements.
func scanJSON(text string) (elements [][]member, single bool, ok bool) {
	s := scanner{text: []byte(text)}
	s.skipBlanks()
	if s.pos == len(s.text) {
		return nil, false, false
	}
	switch s.text[s.pos] {
	case '{':
		members, ok := s.object()
		if !ok {
			return nil, false, false
		}
		elements, single = [][]member{members}, true
	case '[':
		s.pos++
		s.skipBlanks()
		if s.peek() == ']' {
			s.pos++
			break
		}
		for {
			if len(elements) == MaxElements || s.peek() != '{' {
				return nil, false, false
			}
			members, ok := s.object()
			if !ok {
				return nil, false, false
			}
			elements = append(elements, members)
			s.skipBlanks()
			if s.peek() == ',' {
				s.pos++
				s.skipBlanks()
				continue
			}
			if s.peek() != ']' {
				return nil, false, false
			}
			s.pos++
			break
		}
	default:
		return nil, false, false
	}
	s.skipBlanks()
	if s.pos != len(s.text) {
		return nil, false, false
	}
	return elements, single, true
}

// peek returns the next byte, 0 at the end of the text (never valid there).
func (s *scanner) peek() byte {
	if s.pos < len(s.text) {
		return s.text[s.pos]
	}
	return 0
}

// skipBlanks skips the four blank characters JSON allows between tokens.
func (s *scanner) skipBlanks() {
	for s.pos < len(s.text) {
		switch s.text[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object reads an element object at pos into its members.
func (s *scanner) object() ([]member, bool) {
	s.pos++ // '{'
	s.skipBlanks()
	if s.peek() == '}' {
		s.pos++
		return nil, true
	}
	members := make([]member, 0, 4) // most elements have at most four
	for {
		start := s.pos
		if !s.string() {
			return nil, false
		}
		key := s.text[start:s.pos]
		s.skipBlanks()
		if s.peek() != ':' {
			return nil, false
		}
		s.pos++
		s.skipBlanks()
		start = s.pos
		blanks, ok := s.value(1)
		if !ok {
			return nil, false
		}
		value := s.text[start:s.pos]
		if blanks {
			value = compactPlain(value)
		}
		members = append(members, member{name: string(key[1 : len(key)-1]), key: key, value: value})
		s.skipBlanks()
		switch s.peek() {
		case ',':
			s.pos++
			s.skipBlanks()
		case '}':
			s.pos++
			return members, true
		default:
			return nil, false
		}
	}
}

// string reads a string of printable ASCII without escapes at pos.
func (s *scanner) string() bool {
	if s.peek() != '"' {
		return false
	}
	for s.pos++; s.pos < len(s.text); s.pos++ {
		c := s.text[s.pos]
		switch {
		case c == '"':
			s.pos++
			return true
		case c < 0x20 || c > 0x7e || c == '\\':
			return false
		}
	}
	return false
}

// value reads any value at pos; blanks reports blanks inside it, which
// the member's value must not keep (parseMembers compacts values).
func (s *scanner) value(depth int) (blanks bool, ok bool) {
	if depth > maxScanDepth {
		return false, false
	}
	switch c := s.peek(); {
	case c == '"':
		return false, s.string()
	case c == '{' || c == '[':
		return s.container(depth)
	case c == '-' || ('0' <= c && c <= '9'):
		return false, s.number()
	case c == 't':
		return false, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return false, s.literal("null")
	}
	return false, false
}

// container reads a nested object or list at pos.
func (s *scanner) container(depth int) (blanks bool, ok bool) {
	open := s.text[s.pos]
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	s.pos++
	start := s.pos
	s.skipBlanks()
	blanks = s.pos != start
	if s.peek() == closing {
		s.pos++
		return blanks, true
	}
	for {
		if open == '{' {
			if !s.string() {
				return false, false
			}
			start = s.pos
			s.skipBlanks()
			if s.peek() != ':' {
				return false, false
			}
			s.pos++
			s.skipBlanks()
			blanks = blanks || s.pos != start+1
		}
		inner, ok := s.value(depth + 1)
		if !ok {
			return false, false
		}
		start = s.pos
		s.skipBlanks()
		blanks = blanks || inner || s.pos != start
		switch s.peek() {
		case ',':
			s.pos++
			start = s.pos
			s.skipBlanks()
			blanks = blanks || s.pos != start
		case closing:
			s.pos++
			return blanks, true
		default:
			return false, false
		}
	}
}

// number reads a number as the JSON grammar spells it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.pos++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more decimal digits.
func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.text) && '0' <= s.text[s.pos] && s.text[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// literal reads the word true, false or null.
func (s *scanner) literal(word string) bool {
	if len(s.text)-s.pos < len(word) || string(s.text[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

// compactPlain drops the blanks of a value the scanner read: its strings
// contain neither quotes nor escapes, so every blank outside a pair of
// quotes is between tokens.
func compactPlain(value []byte) []byte {
	compact := make([]byte, 0, len(value))
	inString := false
	for _, c := range value {
		switch {
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		compact = append(compact, c)
	}
	return compact
}

// plainString returns the text of a JSON string literal without escapes
// or non-ASCII bytes; ok is false for any other value.
func plainString(value []byte) (string, bool) {
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	for _, c := range value[1 : len(value)-1] {
		if c == '\\' || c >= 0x80 {
			return "", false
		}
	}
	return string(value[1 : len(value)-1]), true
}
