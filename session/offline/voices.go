package offline

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Voices. A session's voice is an OpenAI voice name (nova, the product's default, alloy, echo,
// ...) or an espeak-ng voice. OpenAI names map to espeak-ng variants of the same gender in the
// language and accent of Config.Voice; nova is Config.Voice itself, so ESPEAK_VOICE sets the
// voice everyone hears by default. espeak-ng voices ("en-gb", "en-us+m3") are taken as they are;
// any other name falls back to Config.Voice.

// openAIVariants maps OpenAI voice names to espeak-ng variants ("" is Config.Voice). It is
// never written.
var openAIVariants = map[string]string{
	// female
	"nova": "", "shimmer": "f4", "alloy": "f5", "coral": "f2", "sage": "f1", "marin": "f4",
	// male
	"echo": "m3", "onyx": "m1", "fable": "m2", "ash": "m4", "ballad": "m5", "verse": "m6", "cedar": "m7",
}

// voiceCatalog is what espeak-ng --voices lists: languages and variants, by lower-case name.
type voiceCatalog struct {
	langs    map[string]string // "en-us" → "en-us"
	variants map[string]string // "alicia" → "Alicia" (variant names are file names: case matters)
}

// otherLangRe finds the "(en 3)" entries of the "Other Languages" column.
var otherLangRe = regexp.MustCompile(`\(([A-Za-z0-9-]+) \d+\)`)

// loadVoices asks espeak-ng for its voices and variants.
func loadVoices(ctx context.Context, espeak string) (voiceCatalog, error) {
	list := func(arg string) (string, error) {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, espeak, arg)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", notInstalled([]string{fmt.Sprintf("a working espeak-ng (%s %s failed: %v %s)", espeak, arg, err, strings.TrimSpace(stderr.String()))})
		}
		return string(out), nil
	}
	langs, err := list("--voices")
	if err != nil {
		return voiceCatalog{}, err
	}
	variants, err := list("--voices=variant")
	if err != nil {
		return voiceCatalog{}, err
	}
	c := parseVoices(langs, variants)
	if len(c.langs) == 0 {
		return voiceCatalog{}, notInstalled([]string{"espeak-ng's voices (espeak-ng --voices listed none)"})
	}
	return c, nil
}

// parseVoices reads the tables of espeak-ng --voices and --voices=variant:
//
//	Pty Language       Age/Gender VoiceName          File                 Other Languages
//	 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
//	 5  variant         --/F      Alicia             !v/Alicia
func parseVoices(langs, variants string) voiceCatalog {
	c := voiceCatalog{langs: map[string]string{}, variants: map[string]string{}}
	for _, line := range strings.Split(langs, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "Pty" {
			continue
		}
		c.langs[strings.ToLower(f[1])] = f[1]
		for _, m := range otherLangRe.FindAllStringSubmatch(line, -1) {
			if _, ok := c.langs[strings.ToLower(m[1])]; !ok {
				c.langs[strings.ToLower(m[1])] = m[1]
			}
		}
	}
	for _, line := range strings.Split(variants, "\n") {
		i := strings.Index(line, "!v/")
		if i < 0 {
			continue
		}
		name := strings.TrimSpace(line[i+len("!v/"):])
		if name != "" && !strings.ContainsAny(name, " \t") {
			c.variants[strings.ToLower(name)] = name
		}
	}
	return c
}

// lookup returns the canonical spelling of an espeak-ng voice: a language, optionally with a
// variant ("en-us+f3").
func (c voiceCatalog) lookup(name string) (string, bool) {
	lang, variant, hasVariant := strings.Cut(name, "+")
	l, ok := c.langs[strings.ToLower(lang)]
	if !ok {
		return "", false
	}
	if !hasVariant {
		return l, true
	}
	v, ok := c.variants[strings.ToLower(variant)]
	if !ok {
		return "", false
	}
	return l + "+" + v, true
}

// resolve returns the espeak-ng voice for a session's voice; def is Config.Voice, canonical.
func (c voiceCatalog) resolve(voice, def string) string {
	if voice == "" {
		return def
	}
	if variant, ok := openAIVariants[strings.ToLower(voice)]; ok {
		if variant == "" {
			return def
		}
		lang, _, _ := strings.Cut(def, "+")
		if v, ok := c.lookup(lang + "+" + variant); ok {
			return v
		}
		return def
	}
	if v, ok := c.lookup(voice); ok {
		return v
	}
	return def
}
