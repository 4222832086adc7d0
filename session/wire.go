package session

import (
	"io"

	"github.com/gorilla/websocket"
)

// wire is the protocol a session speaks on its socket: WebSocket protocol v1 (v1Wire) or the
// OpenAI Realtime events (realtime.go). The session and the turn pipeline send their events as
// the types of protocol.go; the writer asks the wire for the frames that carry each event and
// each chunk of reply audio. The wire's encoding methods are only ever called on the writer
// goroutine, so they may keep state; read runs on the reader goroutine.
type wire interface {
	// event returns the frames that carry ev.
	event(ev any) []frame
	// audio returns the frames that carry a chunk of reply audio of turn t (24 kHz PCM).
	audio(t *turn, pcm []byte) []frame
	// read handles one frame from the client.
	read(s *Session, messageType int, r io.Reader) error
}

// frame is one WebSocket message to write.
type frame struct {
	binary bool
	data   []byte
}

// v1Wire is protocol v1 (docs/protocol.md): events are JSON text frames as protocol.go
// declares them, reply audio binary frames of PCM, client audio binary frames of PCM.
type v1Wire struct{}

func (v1Wire) event(ev any) []frame { return []frame{{data: mustJSON(ev)}} }

func (v1Wire) audio(_ *turn, pcm []byte) []frame { return []frame{{binary: true, data: pcm}} }

func (v1Wire) read(s *Session, mt int, r io.Reader) error {
	switch mt {
	case websocket.BinaryMessage:
		return s.readAudio(r)
	case websocket.TextMessage:
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		s.handleText(data)
	}
	return nil
}
