"""The motor and the car: motor torque -> wheel force -> speed, and the electrical power it takes.

A host model (CPython 3.11 and MicroPython 1.27). Sign convention: positive torque, speed and force are forward.

    m_eff dv/dt = T G / r - F_grade - F_aero - sign(v) (F_roll + F_brake)
    m_eff = mass + J_motor (G / r)^2,   F_aero = rho/2 CdA v|v|,   F_roll = Crr m g,   F_grade = m g sin(atan(grade))

Rolling resistance and the friction brake only oppose motion: at standstill they hold the car until the drive
force beats them (no creeping back and forth across zero), and within a step they stop the car rather than push
it backwards. Semi-implicit Euler on v with the given step (10 ms is far below every time constant here).

Electrical power at the DC link for an effective motor torque T at the present speed: P = T w / eff when motoring,
T w eff when regenerating (w = motor rad/s), plus nothing at standstill: the loss model is one efficiency figure.

Values (AZE0 Leaf; "guess" where no source gives one):
    MASS 1600 kg          1520 kg kerb + driver
    WHEEL_R 0.316 m       205/55R16
    GEAR 8.1938           AZE0 reduction gear (the ZE0's is 7.9377)
    CRR 0.010, CDA 0.66   rolling resistance; Cd 0.29 x 2.28 m2
    J_MOTOR 0.06 kg m2    rotor inertia (guess)
    EFF 0.90              motor + inverter efficiency (guess)
    BRAKE_DECEL 2.5 m/s2  friction brake with the pedal pressed (a moderate stop; guess)
The ZE0 full-throttle log (280 Nm, 0 -> 2740 rpm in ~2.7 s) is what these give within ~10 %.
"""

import math

MASS = 1600.0
WHEEL_R = 0.316
GEAR = 8.1938
CRR = 0.010
CDA = 0.66
RHO = 1.2
J_MOTOR = 0.06
EFF = 0.90
BRAKE_DECEL = 2.5
G = 9.81
_RPM_PER_RADS = 60.0 / (2.0 * math.pi)
_V_STOP = 1e-4  # m/s: below this the car counts as standing


class Car:
    """Inputs: torque (Nm at the motor, the inverter's effective torque), brake (0..1 friction brake),
    grade_pct (road grade, + = uphill forward). State: v (m/s), x (m). Views: rpm, speed_kmh, p_elec()."""

    def __init__(self, mass=MASS, wheel_r=WHEEL_R, gear=GEAR, crr=CRR, cda=CDA, rho=RHO, j_motor=J_MOTOR,
                 eff=EFF, brake_decel=BRAKE_DECEL):
        self.mass = float(mass)
        self.wheel_r = float(wheel_r)
        self.gear = float(gear)
        self.crr = float(crr)
        self.cda = float(cda)
        self.rho = float(rho)
        self.j_motor = float(j_motor)
        self.eff = float(eff)
        self.brake_decel = float(brake_decel)
        self.torque = 0.0
        self.brake = 0.0
        self.grade_pct = 0.0
        self.v = 0.0
        self.x = 0.0
        self._k = self.gear / self.wheel_r  # wheel force per motor Nm; motor rad/s per m/s
        self._m_eff = self.mass + self.j_motor * self._k * self._k

    @property
    def rpm(self):
        """Motor speed (rpm, signed)."""
        return self.v * self._k * _RPM_PER_RADS

    @rpm.setter
    def rpm(self, r):
        self.v = r / (self._k * _RPM_PER_RADS)

    @property
    def speed_kmh(self):
        return self.v * 3.6

    @property
    def omega(self):
        """Motor speed in rad/s."""
        return self.v * self._k

    def p_elec(self, torque=None):
        """DC-link power (W) for `torque` (default: the present input) at the present speed."""
        t = self.torque if torque is None else torque
        p = t * self.v * self._k
        return p / self.eff if p > 0.0 else p * self.eff

    def step(self, dt):
        """Advance dt seconds with the present inputs."""
        m = self.mass
        g = self.grade_pct * 0.01
        # road: sin(atan(g)) = g / sqrt(1 + g^2)
        f_grade = m * G * g / math.sqrt(1.0 + g * g) if g else 0.0
        f_roll = self.crr * m * G * (1.0 / math.sqrt(1.0 + g * g) if g else 1.0)
        b = self.brake
        f_res = f_roll + (b if b < 1.0 else 1.0) * self.brake_decel * m if b > 0.0 else f_roll
        v = self.v
        f_drive = self.torque * self._k - f_grade - 0.5 * self.rho * self.cda * v * abs(v)
        if -_V_STOP < v < _V_STOP:
            if -f_res <= f_drive <= f_res:
                self.v = 0.0
                return
            a = (f_drive - f_res if f_drive > 0.0 else f_drive + f_res) / self._m_eff
            nv = v + a * dt
        else:
            a = (f_drive - f_res if v > 0.0 else f_drive + f_res) / self._m_eff
            nv = v + a * dt
            if nv * v < 0.0 and -f_res <= f_drive <= f_res:
                nv = 0.0  # friction stops the car, it does not push it backwards
        self.x += 0.5 * (v + nv) * dt
        self.v = nv

    def __repr__(self):
        return "<Car %.1f km/h %.0f rpm>" % (self.speed_kmh, self.rpm)
