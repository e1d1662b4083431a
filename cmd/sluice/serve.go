package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/broker"
	"github.com/sluice-dev/sluice/internal/config"
)

func serveCommand() *cobra.Command {
	var (
		configFile string
		overrides  []string
		logLevel   string
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "serve [server.properties]",
		Short: "Run a broker",
		Long: `Run a broker. With no flags it listens on 127.0.0.1:9092 and keeps data in
./sluice-data. Settings use Kafka's names and come, in order of precedence,
from flags (--log.dirs=/data or --override log.dirs=/data), environment
variables in the apache/kafka image's convention (KAFKA_LOG_DIRS=/data:
prefix KAFKA_, '.'→'_', '_'→'__', '-'→'___'), a server.properties file,
and defaults.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if configFile != "" {
					return fmt.Errorf("give the properties file either as an argument or with --config, not both")
				}
				configFile = args[0]
			}
			flags := map[string]string{}
			for _, d := range config.Defs(config.ScopeBroker) {
				if f := cmd.Flags().Lookup(d.Name); f != nil && f.Changed {
					flags[d.Name] = f.Value.String()
				}
			}
			for _, o := range overrides {
				k, v, ok := strings.Cut(o, "=")
				if !ok {
					return fmt.Errorf("--override %q must look like key=value", o)
				}
				flags[k] = v
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("cannot write the CPU profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cannot start the CPU profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			return serve(configFile, flags, logLevel)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "server.properties-style file with Kafka config keys")
	cmd.Flags().StringArrayVar(&overrides, "override", nil, "set a config key, as key=value (repeatable)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.Flags().StringVar(&cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the broker to this file until shutdown")
	for _, d := range config.Defs(config.ScopeBroker) {
		cmd.Flags().String(d.Name, "", d.Doc)
	}
	return cmd
}

func serve(configFile string, flags map[string]string, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q is not one of debug, info, warn, error", logLevel)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, warnings, err := config.Load(configFile, os.Environ(), flags)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	b, err := broker.Start(cfg, logger)
	if err != nil {
		return err
	}
	console := ""
	if len(b.HTTPAddrs) > 0 {
		console = fmt.Sprintf(", console and metrics on http://%s", b.HTTPAddrs[0])
	}
	fmt.Printf("sluice listening on %s, data in %s%s\n", strings.Join(b.Addrs, ", "), strings.Join(b.DataDirs, ", "), console)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	sig := <-signals
	logger.Info("shutting down", "signal", sig.String())
	signal.Stop(signals)
	if err := b.Close(); err != nil {
		return fmt.Errorf("shutdown was not clean, the next start will recover the logs: %w", err)
	}
	logger.Info("shut down cleanly")
	return nil
}
