package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aitutor/aitutor/server/servertest"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/offline"
)

// TestTutorPageWithOfflineEngines is the tutor page as `make run` without an OpenAI key serves
// it: the fake microphone speaks an espeak-ng sentence, pocketsphinx hears it, the scripted
// tutor answers and espeak-ng speaks the answer, which the page plays.
func TestTutorPageWithOfflineEngines(t *testing.T) {
	eng, err := offline.New(offline.Config{})
	if err != nil {
		t.Fatalf("this test runs the offline engines: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	providers := eng.Providers()
	env := servertest.New(t, servertest.Options{Providers: &providers})

	// The learner's sentence, in the espeak voice pocketsphinx recognises best, then silence
	// so that turn detection ends the turn and the learner hears the answer (Chromium loops
	// the file: the sentence said again over the answer's first sentence would interrupt it,
	// and an answer cut before its first sentence was heard is not charged).
	out, err := exec.Command("espeak-ng", "-v", "en-us+klatt", "-s", "175", "--stdout", "--",
		"I like to play football with my friends on the weekend").Output()
	if err != nil {
		t.Fatalf("espeak-ng (install it with: %s): %v", offline.InstallCommand, err)
	}
	samples, rate, err := session.ParseWAV(out)
	if err != nil {
		t.Fatal(err)
	}
	samples = session.ResampleAll(samples, rate, wavRate)
	samples = append(append(make([]int16, wavRate/2), samples...), make([]int16, 10*wavRate)...)
	mic := filepath.Join(t.TempDir(), "football.wav")
	if err := os.WriteFile(mic, session.WAV(session.EncodePCM16(nil, samples), wavRate), 0o644); err != nil {
		t.Fatal(err)
	}

	_, token, m := env.Learner("offline@example.com", intp(5))
	p := newTab(t, newBrowser(t, mic, false), env.URL, "offline")
	p.signInWithToken(token, "/tutor/"+m.ID)
	p.waitText("#remaining", "5 chats left", 10*time.Second)
	p.click("#start")
	p.waitJS("the learner's words recognised", `[...document.querySelectorAll(".bubble-user")].some(b => /football|weekend|friends/i.test(b.innerText))`, 60*time.Second)
	p.waitJS("the scripted tutor's answer", `[...document.querySelectorAll(".bubble-tutor")].some(b => b.innerText.trim().length > 20)`, 30*time.Second)
	p.waitJS("a second of espeak reply audio played", `aitutorDebug.probes.audio.playedSamples >= 24000`, 30*time.Second)
	p.waitText("#remaining", "4 chats left", 30*time.Second)
	heard := p.text(".bubble-user")
	reply := p.text(".bubble-tutor")
	if !strings.Contains(reply, "?") {
		t.Errorf("the tutor's answer asks no follow-up question: %q", reply)
	}
	t.Logf("heard %q; answered %q", heard, reply)
	p.screenshots("tutor-offline")
}
