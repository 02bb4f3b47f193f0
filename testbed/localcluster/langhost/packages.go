// What `pulumi package add` and a component package need of a Python language host:
//
//   - RunPlugin for a resource plugin: a source-based component package (PulumiPlugin.yaml with
//     runtime python, this project's provider/) runs as `python -u <plugin dir> <engine args>`,
//     printing its port on stdout for the engine;
//   - InstallDependencies: the plugin's or the consumer's virtualenv, from its requirements.txt
//     (nothing to do when the virtualenv is already valid);
//   - GeneratePackage: a Python SDK from a package schema, with Pulumi's own codegen (pkg/v3, the
//     CLI's release);
//   - Link: the generated SDK added to the consumer's requirements.txt, by the SDK's toolchain.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	pycodegen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// pluginProcess is a plugin's interpreter command (not started): the plugin's virtualenv, run from
// the plugin's own directory, with the engine's environment for it and the engine's streams.
func pluginProcess(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer, args []string,
) (*exec.Cmd, io.Closer, io.Writer, io.Writer, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cmd, err := tc.Command(server.Context(), args...)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cmd.Dir = req.GetInfo().GetProgramDirectory()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	return cmd, closer, stdout, stderr, nil
}

// runResourcePlugin runs a source-based Python provider until the engine stops it.
func (h *host) runResourcePlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(server.Context()); err != nil {
		return fmt.Errorf("the plugin's virtualenv: %w", err)
	}
	cmd, closer, stdout, stderr, err := pluginProcess(req, server,
		append([]string{"-u", req.GetInfo().GetProgramDirectory()}, req.GetArgs()...))
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if exitErr, ok := err.(*exec.ExitError); ok {
			return server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
			})
		}
		return err
	}
	return closer.Close()
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	ctx := server.Context()
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	root := req.GetInfo().GetRootDirectory()
	// A plugin whose virtualenv is already there (this project's provider/, after `make setup`)
	// has its dependencies: its directory need not carry a requirements.txt of its own.
	if _, err := os.Stat(filepath.Join(root, "requirements.txt")); os.IsNotExist(err) {
		if verr := tc.ValidateVenv(ctx); verr == nil {
			return closer.Close()
		}
		return fmt.Errorf("%s has no requirements.txt and no valid virtualenv", root)
	}
	if err := tc.InstallDependencies(ctx, root, req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func (h *host) GeneratePackage(ctx context.Context, req *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	loader, err := schema.NewLoaderClient(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, err
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	response := &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}
	if diags.HasErrors() {
		return response, nil
	}
	files, err := pycodegen.GeneratePackage("pulumi-language-python", pkg, req.GetExtraFiles(), loader)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		path := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, err
		}
	}
	return response, nil
}

func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	packages := map[string]string{}
	var imports []string
	for _, dep := range req.GetPackages() {
		name := dep.GetPackage().GetName()
		if p := dep.GetPackage().GetParameterization(); p != nil {
			name = p.GetName()
		}
		module := pycodegen.PyPack("", name)
		packages[module] = dep.GetPath()
		imports = append(imports, "import "+module)
	}
	if err := tc.LinkPackages(ctx, packages); err != nil {
		return nil, err
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can then import the SDK in your Python code with:\n\n  " + strings.Join(imports, "\n  ") + "\n",
	}, nil
}
