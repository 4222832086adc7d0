// Package providers builds the speech and chat engines that AI_PROVIDER selects.
package providers

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aitutor/aitutor/server"
	"github.com/aitutor/aitutor/session"
	"github.com/aitutor/aitutor/session/offline"
	"github.com/aitutor/aitutor/session/openai"
	"github.com/aitutor/aitutor/session/openaisim"
)

// New builds the speech and chat engines that AI_PROVIDER selects: OpenAI (or any
// compatible server), the offline engines, or the simulator started in this process and spoken
// to over real HTTP. The returned func releases them.
func New(ctx context.Context, cfg server.Config, logger *slog.Logger) (session.Providers, func(), error) {
	openaiCfg := openai.Config{
		APIKey: cfg.OpenAIKey, BaseURL: cfg.OpenAIBaseURL,
		ChatModel: cfg.ChatModel, STTModel: cfg.STTModel, TTSModel: cfg.TTSModel,
	}
	switch cfg.AIProvider {
	case server.ProviderOpenAI:
		base := cfg.OpenAIBaseURL
		if base == "" {
			base = "https://api.openai.com/v1"
		}
		logger.Info("AI engines: OpenAI-compatible API", "base_url", base, "chat", cfg.ChatModel, "stt", cfg.STTModel, "tts", cfg.TTSModel, "voice", cfg.TTSVoice)
		return openai.New(openaiCfg).Providers("openai"), func() {}, nil
	case server.ProviderSim:
		profile, err := openaisim.ProfileByName(cfg.SimProfile)
		if err != nil {
			return session.Providers{}, nil, fmt.Errorf("config: SIM_PROFILE: %w", err)
		}
		simCtx, cancel := context.WithCancel(ctx)
		base, err := openaisim.New(profile).Listen(simCtx, "127.0.0.1:0")
		if err != nil {
			cancel()
			return session.Providers{}, nil, err
		}
		openaiCfg.BaseURL, openaiCfg.APIKey = base, "sim"
		logger.Info("AI engines: built-in OpenAI simulator (canned transcripts and replies, synthetic voice)", "profile", profile.Name, "base_url", base)
		return openai.New(openaiCfg).Providers("sim"), cancel, nil
	default:
		eng, err := offline.New(offline.Config{Voice: cfg.EspeakVoice, Speed: cfg.EspeakSpeed, Logger: logger})
		if err != nil {
			return session.Providers{}, nil, err
		}
		logger.Info("AI engines: offline (espeak-ng speech, pocketsphinx recognition, scripted tutor); set OPENAI_API_KEY for OpenAI or AI_PROVIDER=sim for the simulator")
		return eng.Providers(), func() { eng.Close() }, nil
	}
}
