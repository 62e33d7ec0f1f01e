//go:build tools

// Keeps the two MetalLB commands the test bed builds (its controller and its speaker, both `main`
// packages of MetalLB's main module) in this module's requirements.
package tools

import (
	_ "go.universe.tf/metallb/controller"
	_ "go.universe.tf/metallb/speaker"
)
