package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/openaisim"
)

// The official clients of the Realtime API against /v1/realtime: the openai npm package's
// realtime/ws client and the Agents SDK's RealtimeSession over its WebSocket transport, run by
// Node from server/testdata/realtime-node (scenarios in openai-ws.mjs and agents.mjs) against
// the server as the binary runs it (Server.Run with TLS_CERT_FILE: wss:// on loopback, the
// certificate trusted through NODE_EXTRA_CA_CERTS) and the simulator behind it. Node checks
// what the client sees — the events, their order, their shapes against the SDK's schemas —
// and prints it; this test checks that and what the server recorded: charges, refunds,
// history and truncation.

const realtimeNodeDir = "testdata/realtime-node"

// realtimeNode finds node and the packages (npm ci when they are missing); the test fails,
// saying how to install them, when it cannot.
func realtimeNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("this test runs the official Realtime clients on Node: apt-get install nodejs npm (make test installs them)")
	}
	if _, err := os.Stat(filepath.Join(realtimeNodeDir, "node_modules", "openai", "package.json")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = realtimeNodeDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s (make test runs it): %v\n%s", realtimeNodeDir, err, out)
		}
	}
	return node
}

type nodeRun struct {
	t       *testing.T
	node    string
	env     []string
	wavPath string
}

// run runs script's scenario with extra variables and decodes the line it prints.
func (n *nodeRun) run(script, scenario string, vars map[string]string, out any) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.node, script, scenario)
	cmd.Dir = realtimeNodeDir
	cmd.Env = append(os.Environ(), n.env...)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		n.t.Fatalf("node %s %s: %v\n%s%s", script, scenario, err, stderr.String(), stdout.String())
	}
	line := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), out); err != nil {
		n.t.Fatalf("node %s %s printed %q: %v\nstderr: %s", script, scenario, stdout.String(), err, stderr.String())
	}
	n.t.Logf("node %s %s: %s", script, scenario, truncateLog(line, 600))
}

func truncateLog(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// startRealtimeTLS starts the server over TLS with a simulator that tells long stories when
// asked and transcribes every utterance as the same sentence.
func startRealtimeTLS(t *testing.T) (*servertest.Env, string, string) {
	certFile, keyFile := servertest.SelfSignedTLS(t)
	env := servertest.New(t, servertest.Options{Env: map[string]string{
		"PORT": strconv.Itoa(freePort(t)), "TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile,
	}})
	env.Sim.SetTranscript(func(string, []byte) string { return "I would like to visit the mountains." })
	env.Sim.SetReply(func(req openaisim.ChatRequest) string {
		last := req.Messages[len(req.Messages)-1].Content
		if strings.Contains(last, "long story") {
			return strings.Repeat("Once upon a time a traveller walked through the green valleys and the old villages. ", 12)
		}
		return "That sounds lovely. Tell me more about it."
	})
	return env, env.Serve(), certFile
}

// spokenWAVFile is a sentence spoken by espeak-ng, as a 24 kHz WAV file (what audio/pcm carries).
func spokenWAVFile(t *testing.T, text string) string {
	t.Helper()
	pcm := session.EncodePCM16(nil, session.ResampleAll(offlineSpeech(t, text), 16000, 24000))
	path := filepath.Join(t.TempDir(), "learner.wav")
	if err := os.WriteFile(path, session.WAV(pcm, 24000), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRealtimeOfficialOpenAIClient(t *testing.T) {
	node := realtimeNode(t)
	env, base, certFile := startRealtimeTLS(t)
	_, tok, m := env.Learner("node@example.com", intp(20))
	n := &nodeRun{t: t, node: node, env: []string{
		"NODE_EXTRA_CA_CERTS=" + certFile, "AITUTOR_BASE_URL=" + base + "/v1", "AITUTOR_TOKEN=" + tok,
		"AITUTOR_WAV=" + spokenWAVFile(t, "I would like to visit the mountains this summer"),
	}}
	uses := func() int {
		var left int
		if err := env.Store.DB().Get(&left, `SELECT remaining_chat_uses FROM memberships WHERE id = $1`, m.ID); err != nil {
			t.Fatal(err)
		}
		return left
	}

	// A typed turn (the single usable membership is found without naming it).
	var typed struct {
		ConversationID string         `json:"conversationId"`
		Status         string         `json:"status"`
		Transcript     string         `json:"transcript"`
		AudioBytes     int            `json:"audioBytes"`
		Usage          map[string]any `json:"usage"`
		Metrics        map[string]any `json:"metrics"`
		Remaining      int            `json:"remaining"`
		Errors         []any          `json:"errors"`
	}
	n.run("openai-ws.mjs", "typed", nil, &typed)
	if typed.Status != "completed" || typed.Transcript != "That sounds lovely. Tell me more about it." || typed.AudioBytes < 24000 ||
		typed.Usage == nil || typed.Metrics["firstAudioMs"] == nil || len(typed.Errors) > 0 {
		t.Fatalf("typed turn: %+v", typed)
	}
	if typed.Remaining != 19 || uses() != 19 {
		t.Fatalf("one use spent: rate_limits says %d, the database %d", typed.Remaining, uses())
	}
	reqs := env.Sim.ChatRequests()
	if sys := reqs[len(reqs)-1].Messages[0].Content; !strings.Contains(sys, "training to be a chef") {
		t.Fatalf("instructions are not in the tutor's prompt: %s", sys)
	}

	// A spoken turn from the WAV.
	var spoken struct {
		Status      string `json:"status"`
		Learner     string `json:"learner"`
		SpeechStart int    `json:"speechStartMs"`
		SpeechEnd   int    `json:"speechEndMs"`
		AudioBytes  int    `json:"audioBytes"`
		Errors      []any  `json:"errors"`
	}
	n.run("openai-ws.mjs", "spoken", map[string]string{"AITUTOR_MEMBERSHIP": m.ID}, &spoken)
	if spoken.Status != "completed" || spoken.Learner != "I would like to visit the mountains." || spoken.AudioBytes == 0 || len(spoken.Errors) > 0 {
		t.Fatalf("spoken turn: %+v", spoken)
	}
	// The WAV's speech starts after 300 ms of silence and lasts about 2.5 s.
	if spoken.SpeechStart < 150 || spoken.SpeechStart > 800 || spoken.SpeechEnd < spoken.SpeechStart+1000 {
		t.Fatalf("speech_started at %d ms, speech_stopped at %d ms", spoken.SpeechStart, spoken.SpeechEnd)
	}
	if uses() != 18 {
		t.Fatalf("uses left %d after two answers", uses())
	}

	// A cancel before anything was heard: refunded.
	var cancelled struct {
		Status    string `json:"status"`
		Reason    string `json:"reason"`
		Refunded  bool   `json:"refunded"`
		Remaining int    `json:"remaining"`
	}
	n.run("openai-ws.mjs", "cancel", nil, &cancelled)
	if cancelled.Status != "cancelled" || cancelled.Reason != "client_cancelled" || !cancelled.Refunded || cancelled.Remaining != 18 {
		t.Fatalf("cancel: %+v", cancelled)
	}
	if uses() != 18 {
		t.Fatalf("the cancelled response was not refunded: %d left", uses())
	}

	// Barge-in: the learner talks over a long reply, the app truncates it to what it played.
	var barge struct {
		ConversationID string `json:"conversationId"`
		Interrupted    string `json:"interrupted"`
		Reason         string `json:"reason"`
		TurnID         string `json:"turnId"`
		FullTranscript string `json:"fullTranscript"`
		AudioEndMs     int    `json:"audioEndMs"`
		Answer         string `json:"answer"`
		Errors         []any  `json:"errors"`
	}
	n.run("openai-ws.mjs", "bargein", nil, &barge)
	if barge.Interrupted != "cancelled" || barge.Reason != "turn_detected" || barge.Answer != "completed" || len(barge.Errors) > 0 {
		t.Fatalf("barge-in: %+v", barge)
	}
	var stored string
	if err := env.Store.DB().Get(&stored, `SELECT tutor_text FROM messages WHERE conversation_id = $1 AND turn_id = $2`,
		barge.ConversationID, barge.TurnID); err != nil {
		t.Fatal(err)
	}
	// What was heard: whole sentences, and the words of a cut one up to an ellipsis.
	if heard := strings.TrimSuffix(stored, "…"); heard == "" || len(heard) >= len(barge.FullTranscript) || !strings.HasPrefix(barge.FullTranscript, heard) {
		t.Fatalf("the interrupted reply is stored as %q; truncated at %d ms it should be a prefix of %q", stored, barge.AudioEndMs, barge.FullTranscript)
	}

	// A conversation resumed in a new connection: the tutor gets its history back.
	var resumed struct {
		Session map[string]any `json:"session"`
		Status  string         `json:"status"`
	}
	n.run("openai-ws.mjs", "resume", map[string]string{"AITUTOR_CONVERSATION": typed.ConversationID}, &resumed)
	if resumed.Session["resumed"] != true || resumed.Session["conversationId"] != typed.ConversationID || resumed.Status != "completed" {
		t.Fatalf("resume: %+v", resumed)
	}
	reqs = env.Sim.ChatRequests()
	if msgs := reqs[len(reqs)-1].Messages; len(msgs) < 4 || msgs[1].Content != "Hello! I want to talk about cooking pasta." {
		t.Fatalf("the resumed conversation lost its history: %+v", msgs)
	}

	// Quota: a membership with two uses left answers twice, then the refusal is an error event.
	_, tok2, m2 := env.Learner("node-quota@example.com", intp(2))
	var quota struct {
		Answered  int            `json:"answered"`
		Error     map[string]any `json:"error"`
		Unknown   map[string]any `json:"unknown"`
		Remaining int            `json:"remaining"`
	}
	n.run("openai-ws.mjs", "quota", map[string]string{"AITUTOR_TOKEN": tok2}, &quota)
	if quota.Answered != 2 || quota.Error["code"] != "quota_exhausted" || quota.Error["type"] != "insufficient_quota" ||
		quota.Unknown["code"] != "unknown_event" || quota.Unknown["event_id"] != "evt_bad" || quota.Remaining != 0 {
		t.Fatalf("quota: %+v", quota)
	}
	checkLedger(t, env, m2.ID, 2)
	checkLedger(t, env, m.ID, 20)
}

func TestRealtimeAgentsSDK(t *testing.T) {
	node := realtimeNode(t)
	env, base, certFile := startRealtimeTLS(t)
	_, tok, m := env.Learner("agents@example.com", intp(20))
	n := &nodeRun{t: t, node: node, env: []string{
		"NODE_EXTRA_CA_CERTS=" + certFile, "AITUTOR_BASE_URL=" + base + "/v1", "AITUTOR_TOKEN=" + tok, "AITUTOR_MEMBERSHIP=" + m.ID,
		"AITUTOR_WAV=" + spokenWAVFile(t, "I would like to visit the mountains this summer"),
	}}
	var got struct {
		TypedReply      string `json:"typedReply"`
		AudioEvents     int    `json:"audioEvents"`
		Interruptions   int    `json:"interruptions"`
		Errors          []any  `json:"errors"`
		SpokenTranscipt string `json:"spokenTranscript"`
		UserItems       int    `json:"userItems"`
		AssistantItems  int    `json:"assistantItems"`
		Interrupted     string `json:"interrupted"`
		AudioEndMs      int    `json:"audioEndMs"`
	}
	n.run("agents.mjs", "session", nil, &got)
	if got.TypedReply != "That sounds lovely. Tell me more about it." || got.AudioEvents == 0 || len(got.Errors) > 0 {
		t.Fatalf("agents: %+v", got)
	}
	if got.SpokenTranscipt != "I would like to visit the mountains." || got.UserItems != 4 || got.AssistantItems != 4 {
		t.Fatalf("the SDK's history: %+v", got)
	}
	if got.Interruptions == 0 || got.Interrupted != "cancelled" || got.AudioEndMs <= 0 {
		t.Fatalf("the SDK did not interrupt the reply: %+v", got)
	}
	reqs := env.Sim.ChatRequests()
	if sys := reqs[0].Messages[0].Content; !strings.Contains(sys, "trip to Scotland") {
		t.Fatalf("the agent's instructions are not in the tutor's prompt: %s", sys)
	}
	checkLedger(t, env, m.ID, 20)
}
