def test(instrument):
    assert instrument.connect(), "the SR830 did not identify itself"
    instrument.settings = {"sensitivity": 1e-3, "time_constant": 0.3}
    instrument.initialize()
    assert instrument.instrument.query("SENS?") == "17"
    assert instrument.instrument.query("OFLT?") == "9"
    data = instrument.perform_measurement()
    assert data.shape == (1, 4)
    x, y, r, theta = data[0]
    assert abs(r - (x**2 + y**2) ** 0.5) < 1e-9
    assert abs(theta - 53.1301) < 1e-3
    instrument.shutdown()
