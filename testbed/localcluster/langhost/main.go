// pulumi-language-python for the local toolchain.
//
// The Go module proxy serves no version of Pulumi's own language-host module,
// so this project carries the small part of a Python language host that
// `pulumi preview/up/destroy/refresh` use, built against the same sdk/v3
// release as the CLI. It runs the SDK's own executor script
// (`pulumi-language-python-exec`, shipped in the sdk/v3 module and installed
// next to this binary) with the project's virtualenv, exactly as the engine's
// RunRequest describes; the Python SDK on the other end is the pip `pulumi`.
//
// It also starts Python policy packs (`--policy-pack`) and source-based component packages, and
// serves what `pulumi package add` needs (packages.go): installing a plugin's or a consumer's
// dependencies, generating a Python SDK, linking it. What it does not do (Pulumi's host does):
// typecheckers, debuggers, uv and poetry, program code generation, `pulumi about` details.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Set by the toolchain build (-X main.version=...).
var version = "0.0.0-dev"

// The executor script exits with this code after it has shown the user an
// actionable message; the engine must then stop without adding its own.
const exitAfterUserMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	executor      string
	engineAddress string
	tracing       string
	cancel        context.CancelFunc
	ctx           context.Context
}

func main() {
	tracing := flag.String("tracing", "", "tracing endpoint, passed on to the program")
	showVersion := flag.Bool("version", false, "print the version and exit")
	// The engine passes a plugin's runtime options (and -root) as -key=value flags when it starts this
	// host for a source-based package (PulumiPlugin.yaml); each request's ProgramInfo carries them
	// too, so the ones this host does not define are dropped rather than refused.
	os.Args = append(os.Args[:1], knownFlags(os.Args[1:])...)
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	executor := filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	if _, err := os.Stat(executor); err != nil {
		fail(fmt.Errorf("missing executor %s: %w", executor, err))
	}
	engine := ""
	if args := flag.Args(); len(args) > 0 {
		engine = args[0]
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	if engine != "" {
		// Exit when the engine goes away, as every plugin must.
		if err := rpcutil.Healthcheck(ctx, engine, 5*time.Minute, cancel); err != nil {
			fail(err)
		}
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	h := &host{executor: executor, engineAddress: engine, tracing: *tracing, ctx: runCtx, cancel: runCancel}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from stdout
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func knownFlags(args []string) []string {
	var kept []string
	for _, arg := range args {
		name := strings.SplitN(strings.TrimLeft(arg, "-"), "=", 2)[0]
		if strings.HasPrefix(arg, "-") && strings.Contains(arg, "=") && flag.Lookup(name) == nil {
			continue
		}
		kept = append(kept, arg)
	}
	return kept
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

func (h *host) Handshake(context.Context, *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// pythonToolchain resolves the interpreter the way Pulumi.yaml's runtime
// options say (toolchain pip, virtualenv venv), using the SDK's own resolver.
func pythonToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Pip,
	}
	options := map[string]any{}
	if info.GetOptions() != nil {
		options = info.GetOptions().AsMap()
	}
	if v, ok := options["virtualenv"].(string); ok {
		opts.Virtualenv = v
	}
	if v, ok := options["toolchain"].(string); ok && v != "pip" {
		return nil, fmt.Errorf("runtime option toolchain %q: this language host supports pip only", v)
	}
	return toolchain.ResolveToolchain(opts)
}

// GetRequiredPackages reports the resource plugins the installed pip packages
// declare in their pulumi-plugin.json, so the engine loads the version the
// Python SDK was generated for.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	venv, err := tc.VirtualEnvPath(ctx)
	if err != nil || venv == "" {
		return &pulumirpc.GetRequiredPackagesResponse{}, nil
	}
	files, _ := filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages", "*", "pulumi-plugin.json"))
	sort.Strings(files)
	var pkgs []*pulumirpc.PackageDependency
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var meta struct {
			Resource bool   `json:"resource"`
			Name     string `json:"name"`
			Version  string `json:"version"`
			Server   string `json:"server"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if !meta.Resource || meta.Name == "" {
			continue
		}
		pkgs = append(pkgs, &pulumirpc.PackageDependency{
			Name: meta.Name, Kind: "resource", Version: meta.Version, Server: meta.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	args := []string{h.executor}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	add("organization", req.GetOrganization())
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	// Stop the program when the engine cancels or the request ends.
	runCtx, stop := context.WithCancel(h.ctx)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd, err := tc.Command(runCtx, args...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	stackConfig := req.GetConfig()
	if stackConfig == nil {
		stackConfig = map[string]string{} // a stack without config: {} (the executor reads "null" as None)
	}
	config, err := json.Marshal(stackConfig)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))

	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.ExitStatus() == exitAfterUserMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python executor: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin starts a Python policy pack (`pulumi preview --policy-pack DIR`):
// `python -u -m pulumi.policy <args> DIR` in the pack's virtualenv, behind the
// SDK's policy proxy, which hands the pack the stack's configuration; or a
// component package's provider (packages.go).
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.GetKind() == "resource" {
		return h.runResourcePlugin(req, server)
	}
	if req.GetKind() != "analyzer" {
		return status.Errorf(codes.Unimplemented, "this language host runs policy packs and resource plugins, not %q plugins", req.GetKind())
	}
	ctx := server.Context()
	args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
	cmd, closer, stdout, stderr, err := pluginProcess(req, server, append(args, req.GetInfo().GetProgramDirectory()))
	if err != nil {
		return err
	}
	defer closer.Close()

	proxy, stdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("could not start the policy pack proxy: %w", err)
	}
	config, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get the stack configuration: %w", err)
	}
	if config != nil {
		set := func(k, v string) {
			if v != "" {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		set("PULUMI_ORGANIZATION", config.GetOrganization())
		set("PULUMI_PROJECT", config.GetProject())
		set("PULUMI_STACK", config.GetStack())
		set("PULUMI_DRY_RUN", strconv.FormatBool(config.GetDryRun()))
		if config.GetConfig() != nil {
			raw, err := json.Marshal(config.GetConfig())
			if err != nil {
				return err
			}
			set("PULUMI_CONFIG", string(raw))
		}
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start the policy pack: %w", err)
	}
	if err := proxy.Attach(ctx, cmd); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
			})
		}
		return err
	}
	return closer.Close()
}

// About answers `pulumi about` with the interpreter in use.
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   map[string]string{"host": "llamastack-mcp local toolchain"},
	}, nil
}
