package session

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The client's JSON messages (protocol.go lists them; docs/protocol.md describes them).

var voiceRe = regexp.MustCompile(`^[A-Za-z0-9_+\-]{1,40}$`)

// parseClientMessage decodes one client → server text frame.
func parseClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return clientMessage{}, err
	}
	return m, nil
}

// handleText handles one client → server JSON message.
func (s *Session) handleText(data []byte) {
	m, err := parseClientMessage(data)
	if err != nil {
		s.sendError(errorEvent{Code: "invalid_json", Message: "message is not a JSON object: " + err.Error()})
		return
	}
	switch m.Type {
	case TypeSessionUpdate:
		s.touch()
		s.update(&m)
	case TypeInputCommit:
		s.commit("")
	case TypeInputClear:
		s.touch()
		s.clearInput()
	case TypeTextInput:
		s.touch()
		text := ""
		if m.Text != nil {
			text = strings.TrimSpace(*m.Text)
		}
		if text == "" || utf8.RuneCountInString(text) > maxTextLen {
			s.sendError(errorEvent{Code: "invalid_request", Message: fmt.Sprintf("text.input needs a text of 1 to %d characters", maxTextLen)})
			return
		}
		s.startTextTurn(text)
	case TypeResponseCancel:
		s.touch()
		s.cancelCurrent(ReasonClientCancel)
	case TypeResponseTruncate:
		s.touch()
		if m.TurnID == "" || m.AudioEndMs == nil || *m.AudioEndMs < 0 {
			s.sendError(errorEvent{Code: "invalid_request", Message: "response.truncate needs a turnId and audioEndMs ≥ 0"})
			return
		}
		if !s.truncate(m.TurnID, *m.AudioEndMs) {
			s.sendError(errorEvent{Code: "unknown_turn", Message: "no turn " + truncateString(m.TurnID, 40) + " in this session", TurnID: truncateString(m.TurnID, 40)})
		}
	case "":
		s.sendError(errorEvent{Code: "invalid_request", Message: "message has no type"})
	default:
		s.sendError(errorEvent{Code: "unknown_type", Message: fmt.Sprintf("unknown message type %q", truncateString(m.Type, 40))})
	}
}

// update applies a session.update; an invalid field rejects the whole update.
func (s *Session) update(m *clientMessage) {
	next := s.settingsSnapshot()
	rate := s.inputRate
	var problems []string
	if m.InputSampleRate != nil {
		if *m.InputSampleRate < minInputRate || *m.InputSampleRate > maxInputRate {
			problems = append(problems, fmt.Sprintf("inputSampleRate must be from %d to %d", minInputRate, maxInputRate))
		}
		rate = *m.InputSampleRate
	}
	if m.Voice != nil {
		if !voiceRe.MatchString(*m.Voice) {
			problems = append(problems, "voice must be a voice name such as nova")
		}
		next.Voice = *m.Voice
	}
	if m.Level != nil {
		switch *m.Level {
		case "beginner", "intermediate", "advanced":
		default:
			problems = append(problems, "level must be beginner, intermediate or advanced")
		}
		next.Level = *m.Level
	}
	if m.Topic != nil {
		topic := strings.Join(strings.Fields(*m.Topic), " ")
		if utf8.RuneCountInString(topic) > maxTopicLength {
			problems = append(problems, fmt.Sprintf("topic is at most %d characters", maxTopicLength))
		}
		next.Topic = topic
	}
	if m.TurnDetection != nil {
		if *m.TurnDetection != serverTurns && *m.TurnDetection != manualTurns {
			problems = append(problems, "turnDetection must be server or manual")
		}
		next.TurnDetection = *m.TurnDetection
	}
	if m.EndOfTurn != nil {
		if *m.EndOfTurn != endOfTurnSmart && *m.EndOfTurn != endOfTurnSilence {
			problems = append(problems, "endOfTurn must be smart or silence")
		}
		next.EndOfTurn = *m.EndOfTurn
	}
	checkMs := func(name string, v *int, lo, hi int, dst *int) {
		if v == nil {
			return
		}
		if *v < lo || *v > hi {
			problems = append(problems, fmt.Sprintf("%s must be from %d to %d", name, lo, hi))
		}
		*dst = *v
	}
	checkMs("silenceMs", m.SilenceMs, 200, 5000, &next.SilenceMs)
	checkMs("minSpeechMs", m.MinSpeechMs, 100, 2000, &next.MinSpeechMs)
	checkMs("bargeInMs", m.BargeInMs, 100, 3000, &next.BargeInMs)
	if len(problems) > 0 {
		s.sendError(errorEvent{Code: "invalid_request", Message: "session.update rejected: " + strings.Join(problems, "; ")})
		return
	}
	if rate != s.inputRate {
		s.inputRate = rate
		s.resampler = NewResampler(rate, DetectorRate)
		s.clearInput()
	}
	s.configureDetector(next)
	s.mu.Lock()
	modeChanged := next.TurnDetection != s.settings.TurnDetection
	s.settings = next
	s.mu.Unlock()
	if modeChanged {
		s.clearInput()
	}
	s.send(sessionUpdated{Type: TypeSessionUpdated, InputSampleRate: rate, sessionSettings: next})
}
