package main

import (
	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/config"
)

// DefaultConfig is used when --config is not given.
const DefaultConfig = "configs/qemu.yaml"

// configFlags adds --config and the flags that override config keys.
type configFlags struct {
	file string
	keys map[string]string // flag name -> config key
}

func addConfigFlags(cmd *cobra.Command, keys map[string]string) *configFlags {
	f := &configFlags{keys: keys}
	cmd.Flags().StringVarP(&f.file, "config", "c", DefaultConfig, "configuration file (YAML); RLBUILD_* variables and flags override it")
	return f
}

func (f *configFlags) load(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(config.Options{File: f.file, Flags: cmd.Flags(), FlagKeys: f.keys})
}
